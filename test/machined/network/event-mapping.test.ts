// A network event on its way out: machined's payload → EventsResponse →
// kilnctl's record and one-line summary.
import { create } from "@bufbuild/protobuf";
import t from "tap";
import { EventsResponseSchema, NetworkEvent_Kind } from "../../../src/gen/kiln/machine/v1/machine_pb.js";
import { eventRecord, eventSummary } from "../../../src/cli/event-view.js";
import { toEventsResponse } from "../../../src/machined/api/event-mapping.js";

t.test("a DHCP address becomes a network event with its kind, link, address and source", async (t) => {
  const payload = { t: "network", kind: "address-added", link: "eth0", address: "10.0.2.15/24", source: "dhcp", message: "10.0.2.15/24 (dhcp)" } as const;
  const res = create(EventsResponseSchema, toEventsResponse({ id: 7, time: new Date(0), payload }, "node-a"));
  t.equal(res.payload.case, "network");
  t.match(res.payload.value, { kind: NetworkEvent_Kind.ADDRESS_ADDED, link: "eth0", address: "10.0.2.15/24", source: "dhcp" });
  const r = eventRecord(res);
  t.same(r.network, { kind: "address-added", link: "eth0", address: "10.0.2.15/24", source: "dhcp", message: "10.0.2.15/24 (dhcp)" });
  t.equal(r.type, "network");
  t.equal(eventSummary(r), "eth0: address-added: 10.0.2.15/24 (dhcp)");
});
