import t from "tap";
import { kubernetesVersion, NO_COMPONENTS, parseComponents, pauseImageName, readComponents, versionInLine } from "../../src/machinery/components.js";

t.test("the version in a program's --version line", async (t) => {
  t.equal(versionInLine("Kubernetes v1.20.2\n"), "v1.20.2");
  t.equal(versionInLine("Kubernetes v1.29.0-rc.1"), "v1.29.0-rc.1");
  t.equal(versionInLine("kube-proxy version unknown"), undefined, "no version, no guess");
});

t.test("major and minor", async (t) => {
  t.same(kubernetesVersion("v1.20.2"), { major: 1, minor: 20 });
  t.same(kubernetesVersion("Kubernetes v1.27.3"), { major: 1, minor: 27 });
  t.equal(kubernetesVersion(null), undefined);
  t.equal(kubernetesVersion("garbage"), undefined);
});

t.test("components.json is read tolerantly: an older image without it has no Kubernetes", async (t) => {
  t.same(parseComponents('{"kubernetes":"v1.20.2","kubernetesPrograms":["kubelet","kube-proxy"],"pauseImage":"kiln.local/pause:0.1.7"}'), {
    kubernetes: "v1.20.2",
    kubernetesPrograms: ["kubelet", "kube-proxy"],
    pauseImage: "kiln.local/pause:0.1.7",
  });
  t.same(parseComponents("not json"), NO_COMPONENTS);
  t.same(parseComponents('{"kubernetes":7,"kubernetesPrograms":["kubelet",3]}'), { kubernetes: null, kubernetesPrograms: ["kubelet"], pauseImage: null });
});

t.test("a missing file is an image without components; the pause image is named for catatonit's version", async (t) => {
  t.same(readComponents("/nonexistent/components.json"), NO_COMPONENTS);
  t.equal(pauseImageName("0.1.7"), "kiln.local/pause:0.1.7");
});
