import t from "tap";
import { createStreamPrinter, renderList, renderOne } from "../../src/cli/output.js";
import { formatTable, type Column } from "../../src/cli/table.js";

interface Row {
  node: string;
  id: string;
  n: number;
}

const columns: Column<Row>[] = [
  { header: "NODE", value: (r) => r.node, optional: true },
  { header: "ID", value: (r) => r.id },
  { header: "N", value: (r) => String(r.n) },
];

t.test("aligns columns under upper-case headers with two spaces between them", async (t) => {
  const rows = [{ node: "a", id: "containerd", n: 1 }, { node: "bb", id: "x", n: 22 }];
  t.equal(formatTable(columns, rows), "NODE  ID          N\na     containerd  1\nbb    x           22\n");
});

t.test("drops the NODE column when no row names a node", async (t) => {
  t.equal(formatTable(columns, [{ node: "", id: "x", n: 1 }]), "ID  N\nx   1\n");
});

t.test("prints only the header for an empty table", async (t) => {
  t.equal(formatTable(columns, []), "ID  N\n");
});

t.test("renders a list as a JSON array and as a YAML sequence", async (t) => {
  const rows = [{ node: "a", id: "x", n: 1 }];
  t.same(JSON.parse(renderList("json", rows, columns)), rows);
  t.equal(renderList("yaml", rows, columns), "- node: a\n  id: x\n  n: 1\n");
  t.equal(renderList("yaml", [], columns), "[]\n");
  t.equal(renderList("json", [], columns), "[]\n");
});

t.test("renders one record as a JSON object, a YAML mapping or a one-row table", async (t) => {
  const row = { node: "a", id: "x", n: 1 };
  t.same(JSON.parse(renderOne("json", row, columns)), row);
  t.equal(renderOne("yaml", row, columns), "node: a\nid: x\nn: 1\n");
  t.equal(renderOne("table", row, columns), "NODE  ID  N\na     x   1\n");
});

t.test("streams records as JSON lines, YAML documents or table rows under one header", async (t) => {
  const rows = [{ node: "a", id: "x", n: 1 }, { node: "a", id: "y", n: 2 }];
  const json = createStreamPrinter("json", columns);
  t.equal(rows.map(json).join(""), '{"node":"a","id":"x","n":1}\n{"node":"a","id":"y","n":2}\n');
  const yaml = createStreamPrinter("yaml", columns);
  t.equal(rows.map(yaml).join(""), "---\nnode: a\nid: x\nn: 1\n---\nnode: a\nid: y\nn: 2\n");
  const table = createStreamPrinter("table", columns);
  t.equal(rows.map(table).join(""), "NODE  ID  N\na     x   1\na     y   2\n");
});
