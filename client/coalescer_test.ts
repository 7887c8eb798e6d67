import assert from "node:assert/strict";
import { Coalescer } from "./coalescer.ts";

function recorder() {
  const sent: string[][] = [];
  const coalescer = new Coalescer<string, string>(
    (item) => {
      sent.push([item]);
      return item === "bad" ? Promise.reject(new Error("bad alone")) : Promise.resolve(`${item}!`);
    },
    (items) => {
      sent.push(items);
      return Promise.resolve(
        items.map((item): PromiseSettledResult<string> =>
          item === "bad"
            ? { status: "rejected", reason: new Error("bad in batch") }
            : { status: "fulfilled", value: `${item}!` }
        ),
      );
    },
    3,
  );
  return { sent, coalescer };
}

Deno.test("Coalescer sends calls made together in batches, each answered in order, and a lone call alone", async () => {
  const { sent, coalescer } = recorder();
  assert.equal(await coalescer.submit("a"), "a!");
  const together = await Promise.allSettled(
    ["b", "bad", "c", "d", "e"].map((item) => coalescer.submit(item)),
  );
  assert.deepEqual(sent, [["a"], ["b", "bad", "c"], ["d", "e"]]);
  assert.deepEqual(together.map((outcome) => outcome.status === "fulfilled" ? outcome.value : "rejected"), [
    "b!",
    "rejected",
    "c!",
    "d!",
    "e!",
  ]);
  // Calls that reach it after a few awaits each (as a prepare's request building does) still meet.
  const late = await Promise.all(["f", "g"].map(async (item) => {
    await Promise.resolve();
    await Promise.resolve();
    return await coalescer.submit(item);
  }));
  assert.deepEqual(late, ["f!", "g!"]);
  assert.deepEqual(sent.at(-1), ["f", "g"]);
});

Deno.test("Coalescer: a batch that fails fails each of its calls", async () => {
  const coalescer = new Coalescer<string, string>(
    (item) => Promise.resolve(item),
    () => Promise.reject(new Error("unreachable")),
    10,
  );
  const outcomes = await Promise.allSettled(["a", "b"].map((item) => coalescer.submit(item)));
  assert.deepEqual(outcomes.map((outcome) => outcome.status), ["rejected", "rejected"]);
});
