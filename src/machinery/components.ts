// components.json: the versions of the third-party programs an image carries
// beyond its base (Kubernetes today), read by the builder when it builds the
// image. machined reads this file; it never runs a binary to learn its version
// (under TCG `kubelet --version` took over 10 s and crash-looped the kubelet).
import { readFileSync } from "node:fs";

/** Kubernetes programs every image with Kubernetes carries: a node's. */
export const KUBERNETES_NODE_PROGRAMS = ["kubelet", "kube-proxy"] as const;
/** Kubernetes programs a control plane runs; the same image carries them, so a machine's role is its config alone. */
export const KUBERNETES_CONTROL_PLANE_PROGRAMS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;
/** What `kilnctl image build --kubernetes DIR` takes from DIR. */
export const KUBERNETES_PROGRAMS = [...KUBERNETES_NODE_PROGRAMS, ...KUBERNETES_CONTROL_PLANE_PROGRAMS] as const;

export interface ImageComponents {
  /** Kubernetes' version ("v1.20.2"), or null when the image carries no kubelet. */
  kubernetes: string | null;
  /** The Kubernetes programs in /usr/bin. */
  kubernetesPrograms: string[];
  /** The pause image's name (containerd's sandbox_image), in the image cache as pause.tar; null in an image without one. */
  pauseImage: string | null;
}

export const NO_COMPONENTS: ImageComponents = { kubernetes: null, kubernetesPrograms: [], pauseImage: null };

/** The pause image's name for a catatonit version: kiln builds it, so it lives under a name no registry serves. */
export function pauseImageName(catatonitVersion: string): string {
  return `kiln.local/pause:${catatonitVersion}`;
}

/** A Kubernetes version as major and minor. */
export interface KubernetesVersion {
  major: number;
  minor: number;
}

/** The version in a program's `--version` line ("Kubernetes v1.20.2"), or undefined. */
export function versionInLine(line: string): string | undefined {
  return /\bv\d+\.\d+\.\d+[^\s]*/.exec(line)?.[0];
}

/** Major and minor of "v1.20.2" (or of a line holding it). */
export function kubernetesVersion(text: string | null | undefined): KubernetesVersion | undefined {
  const m = /v(\d+)\.(\d+)/.exec(text ?? "");
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : undefined;
}

/** The image's components.json (NO_COMPONENTS when it is missing or unreadable). */
export function readComponents(file: string): ImageComponents {
  try {
    return parseComponents(readFileSync(file, "utf8"));
  } catch {
    return NO_COMPONENTS;
  }
}

/** components.json's text as ImageComponents; NO_COMPONENTS for anything else (an image built before the file existed). */
export function parseComponents(text: string): ImageComponents {
  try {
    const v = JSON.parse(text) as Partial<ImageComponents>;
    return {
      kubernetes: typeof v.kubernetes === "string" ? v.kubernetes : null,
      kubernetesPrograms: Array.isArray(v.kubernetesPrograms) ? v.kubernetesPrograms.filter((p): p is string => typeof p === "string") : [],
      pauseImage: typeof v.pauseImage === "string" ? v.pauseImage : null,
    };
  } catch {
    return NO_COMPONENTS;
  }
}
