// A worker thread that parses machine configs: YAML and validation run here,
// off the event loop of the thread that asked (machined's, which must keep
// answering other callers). One request at a time, answered by id.
import { parentPort } from "node:worker_threads";
import { parseConfig } from "./parse.js";

export interface ParseRequest {
  id: number;
  text: string;
}

parentPort?.on("message", (m: ParseRequest) => {
  parentPort!.postMessage({ id: m.id, result: parseConfig(m.text) });
});
