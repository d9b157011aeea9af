// The query editor's SQL box: CodeMirror 6 with SQL highlighting and schema completion, as an
// anywidget module. The browser owns the text and sends it to Python as `value`; Python sends
// {type: "set", text} to replace it and {type: "insert", text} to insert at the cursor, and
// gets {type: "run"} when the analyst presses Ctrl+Enter or Shift+Enter. `schema`
// ({view: [columns]}) is what CodeMirror completes from.
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from "@codemirror/autocomplete";
import { defaultKeymap, history, historyKeymap, indentWithTab } from "@codemirror/commands";
import { sql, StandardSQL } from "@codemirror/lang-sql";
import { bracketMatching, defaultHighlightStyle, syntaxHighlighting } from "@codemirror/language";
import { Annotation, Compartment, EditorState, Prec } from "@codemirror/state";
import { EditorView, highlightActiveLine, keymap, lineNumbers, placeholder, tooltips } from "@codemirror/view";

const fromKernel = Annotation.define();
const VIEW_AFTER = /\b(?:from|join)\s+"?([A-Za-z_]\w*)"?/gi;

// Columns of the views the query names, offered unqualified ("column names of the views in
// the query"); lang-sql itself completes view names and `view.column`.
function queryColumns(schema) {
  return (context) => {
    const word = context.matchBefore(/\w*/);
    if (!word || (word.from === word.to && !context.explicit)) return null;
    if (context.state.sliceDoc(word.from - 1, word.from) === ".") return null;
    const seen = new Map();
    for (const m of context.state.doc.toString().matchAll(VIEW_AFTER)) {
      const view = m[1].toLowerCase();
      for (const column of schema[view] || []) {
        if (!seen.has(column)) seen.set(column, { label: column, type: "property", detail: view, boost: 1 });
      }
    }
    return seen.size ? { from: word.from, options: [...seen.values()], validFor: /^\w*$/ } : null;
  };
}

function language(schema) {
  return [
    sql({ dialect: StandardSQL, schema, upperCaseKeywords: true }),
    StandardSQL.language.data.of({ autocomplete: queryColumns(schema) }),
  ];
}

const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "13px" },
  "&.cm-focused": { outline: "1px solid var(--jp-brand-color1, #1976d2)" },
  ".cm-scroller": { overflow: "auto", fontFamily: "var(--jp-code-font-family, ui-monospace, monospace)" },
  ".cm-content": { minHeight: "100%" },
});

function render({ model, el }) {
  // ipywidgets' Layout owns `el`'s inline style (its height comes from Python); the frame
  // inside carries the border, inline, so that JupyterLab's own CodeMirror rules leave it be.
  el.classList.add("am-sql");
  const frame = document.createElement("div");
  frame.style.cssText = "height: 100%; min-height: 120px; box-sizing: border-box; " +
    "border: 1px solid var(--jp-border-color1, #bdbdbd); background: var(--jp-layout-color0, #fff);";
  el.appendChild(frame);
  const schemaSlot = new Compartment();
  const run = () => {
    // Typed keys reach the document through a DOM observer, a moment after the key event:
    // wait for it, then send the text with "run", so Python runs exactly what is on screen
    // whatever state updates are still on their way.
    setTimeout(() => {
      const text = view.state.doc.toString();
      model.set("value", text);
      model.save_changes();
      model.send({ type: "run", text });
    }, 30);
    return true;
  };
  const view = new EditorView({
    parent: frame,
    state: EditorState.create({
      doc: model.get("value") || "",
      extensions: [
        Prec.highest(keymap.of([
          { key: "Mod-Enter", run },
          { key: "Shift-Enter", run },
        ])),
        lineNumbers(),
        history(),
        bracketMatching(),
        closeBrackets(),
        highlightActiveLine(),
        autocompletion({ activateOnTyping: true }),
        tooltips({ parent: document.body }), // not clipped by the notebook's scrolled output
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, indentWithTab]),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        schemaSlot.of(language(model.get("schema") || {})),
        placeholder(model.get("placeholder") || ""),
        EditorView.lineWrapping,
        theme,
        EditorView.updateListener.of((update) => {
          if (update.docChanged && !update.transactions.some((t) => t.annotation(fromKernel))) {
            model.set("value", update.state.doc.toString());
            model.save_changes();
          }
        }),
      ],
    }),
  });
  view.dom.style.height = "100%"; // inline: JupyterLab's CodeMirror rules outrank a theme
  // Keys typed here are the editor's: JupyterLab must not take them as notebook shortcuts
  // (Shift+Enter would run the cell, "a" or "b" would insert cells).
  el.addEventListener("keydown", (event) => event.stopPropagation());

  const onSchema = () => view.dispatch({ effects: schemaSlot.reconfigure(language(model.get("schema") || {})) });
  const onMessage = (msg) => {
    if (msg && msg.type === "set") {
      // The kernel replaces the text (an example or a saved query was loaded). It does so by
      // message, not through `value`: the kernel's echoes of `value` lag behind typing and
      // would put back text the analyst has already changed.
      if (msg.text !== view.state.doc.toString()) {
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: msg.text }, annotations: fromKernel.of(true) });
      }
    } else if (msg && msg.type === "insert") {
      view.dispatch(view.state.replaceSelection(msg.text));
      view.focus();
    } else if (msg && msg.type === "focus") {
      view.focus();
    }
  };
  model.on("change:schema", onSchema);
  model.on("msg:custom", onMessage);
  return () => {
    model.off("change:schema", onSchema);
    model.off("msg:custom", onMessage);
    view.destroy();
  };
}

export default { render };
