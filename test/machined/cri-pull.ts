// kubelet's image pull in miniature: CRI's ImageService.PullImage
// (runtime.v1) against a real containerd, so tests see what the CRI does
// with the registry section machined writes. One string in, one out.
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { Client, credentials } from "@grpc/grpc-js";

/** PullImageRequest { ImageSpec image = 1 { string image = 1 } }: no auth, so the CRI's own config applies. */
function request(image: string): Buffer {
  return Buffer.from(new BinaryWriter().uint32(10).fork().uint32(10).string(image).join().finish());
}

/** PullImageResponse { string image_ref = 1 }. */
function imageRef(bytes: Buffer): string {
  const r = new BinaryReader(bytes);
  return r.pos < r.len && r.uint32() === 10 ? r.string() : "";
}

/** Pulls `image` through the CRI of the containerd on `socket`; resolves to the image's ref. */
export async function criPull(socket: string, image: string): Promise<string> {
  const client = new Client(`unix://${socket}`, credentials.createInsecure());
  try {
    return await new Promise<string>((resolve, reject) => {
      client.makeUnaryRequest("/runtime.v1.ImageService/PullImage", request, imageRef, image, (err, ref) => (err ? reject(err) : resolve(ref ?? "")));
    });
  } finally {
    client.close();
  }
}
