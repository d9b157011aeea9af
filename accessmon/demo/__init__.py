"""Synthetic Teleport audit events, so the workbench can be tried without a Teleport cluster.

The events look like the ones Teleport writes to Athena: the same JSON keys (`addr.local`,
`identity.client_ip`, `exitCode`, ...), the same omission of empty values, the same store
columns. On top of ordinary traffic with office-hour rhythms, the generator plants every
behaviour the Privileged Access Report looks for (at the rates in `planted`), so each of its
nine queries returns rows in any 7-day window at the default size.

    world.py         the people, bots, hosts and databases the events happen among
    schedule.py      how many events of each type on each day; chunks of whole days
    events/          one builder per event type, one module per family
    context.py       what builders share: the chunk's draws and the common keys
    chunk.py         one chunk of events as a table in the store's schema
    writer.py        generate, iter_chunks, write_demo
    json_objects.py, fixed_width.py   column-wise JSON and fixed-width text
"""

from accessmon.demo.writer import generate, iter_chunks, write_demo

__all__ = ["generate", "iter_chunks", "write_demo"]
