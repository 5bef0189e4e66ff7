// Images a test file makes, removed when it ends.
import { after } from "node:test";
import { docker } from "./containers.js";

/**
 * A set to add the tags or ids of images a test file builds to: every one
 * is removed (forced) when the file ends, whether its tests passed or not.
 */
export function removedAfterwards(): Set<string> {
  const images = new Set<string>();
  after(async () => {
    for (const image of images)
      await docker
        .getImage(image)
        .remove({ force: true })
        .catch(() => undefined);
  });
  return images;
}
