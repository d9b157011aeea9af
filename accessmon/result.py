"""What every engine returns: the rows as Arrow, plus the statistics Teleport records."""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

#: Athena's price: USD 5 per TB scanned, with a 10 MB minimum per query.
USD_PER_TB = 5.0
MIN_BILLED_BYTES = 10 * 1024 * 1024


#: Trino's statistics of a finished query (the client's `cursor.stats`, as Trino's REST
#: protocol names them) -> the name `--stats` prints, in the snake case of the other keys.
TRINO_STATS = {
    "state": "state",
    "elapsedTimeMillis": "elapsed_time_millis",
    "queuedTimeMillis": "queued_time_millis",
    "cpuTimeMillis": "cpu_time_millis",
    "wallTimeMillis": "wall_time_millis",
    "processedRows": "processed_rows",
    "processedBytes": "processed_bytes",
    "physicalInputBytes": "physical_input_bytes",
    "peakMemoryBytes": "peak_memory_bytes",
}


@dataclass
class QueryStats:
    """One query's statistics. The fields are the audit trail's columns, named as Athena
    names them (every engine fills them); `engine_stats` keeps the engine's own figures in
    its own words, for `--stats`."""

    engine: str
    elapsed_ms: int = 0
    data_scanned_bytes: int = 0
    query_execution_id: str | None = None
    engine_execution_ms: int | None = None
    engine_stats: dict[str, object] = field(default_factory=dict)

    @property
    def estimated_cost_usd(self) -> float:
        """What Athena would bill; zero for the embedded engine, which scans nothing remote."""
        if self.engine != "athena":
            return 0.0
        return max(self.data_scanned_bytes, MIN_BILLED_BYTES) / 1e12 * USD_PER_TB

    def as_dict(self) -> dict[str, object]:
        return {
            "engine": self.engine,
            "query_execution_id": self.query_execution_id,
            "data_scanned_in_bytes": self.data_scanned_bytes,
            "total_execution_time_in_millis": self.elapsed_ms,
            "engine_execution_time_in_millis": self.engine_execution_ms,
            "estimated_cost_usd": round(self.estimated_cost_usd, 6),
        }

    def shown(self) -> dict[str, object]:
        """What `--stats` prints: Athena's and DuckDB's figures as the audit trail has them;
        Trino's in Trino's words (`query_id` as its UI shows it, its input and processed
        bytes, its elapsed time), plus accessmon's own round trip. No cost: Trino bills none."""
        if self.engine != "trino":
            return self.as_dict()
        return {
            "engine": self.engine,
            "query_id": self.query_execution_id,
            **self.engine_stats,
            "accessmon_elapsed_millis": self.elapsed_ms,
        }


@dataclass
class QueryResult:
    table: pa.Table
    sql: str
    stats: QueryStats
    views: tuple[str, ...] = field(default_factory=tuple)

    def to_pandas(self):
        """A DataFrame; Arrow types keep TIMESTAMP WITH TIME ZONE working without pytz."""
        return self.table.to_pandas()

    @property
    def columns(self) -> list[str]:
        return self.table.column_names

    def __len__(self) -> int:
        return self.table.num_rows
