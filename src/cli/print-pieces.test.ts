import assert from "node:assert/strict";
import { PassThrough, Writable } from "node:stream";
import { afterEach, describe, it } from "node:test";
import { clearSecrets, registerSecret } from "../util/redact.ts";
import { joinLines, printPieces, println } from "./io.ts";

/** Everything written to a stream, and how many writes it took. */
function collector(): { stream: PassThrough; text: () => string; writes: () => number } {
  const stream = new PassThrough();
  let out = "";
  let writes = 0;
  stream.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
    writes++;
  });
  return { stream, text: () => out, writes: () => writes };
}

const SECRET = "s3cret-token-value-0123456789abcd";

function bigText(lines: number): string[] {
  return Array.from({ length: lines }, (_, i) =>
    i % 997 === 0 ? `line ${i} holds ${SECRET} and more` : `line ${i} ${"x".repeat(i % 50)}`,
  );
}

describe("printPieces", () => {
  afterEach(() => clearSecrets());

  it("writes println's bytes, secrets redacted, in chunks of whole lines", async () => {
    registerSecret(SECRET);
    const lines = bigText(20_000);
    const whole = collector();
    println(whole.stream, lines.join("\n"));
    const chunked = collector();
    await printPieces(chunked.stream, joinLines(lines));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(chunked.text(), whole.text());
    assert.ok(!chunked.text().includes(SECRET));
    assert.ok(chunked.writes() > 5, `${chunked.writes()} writes`);
  });

  it("redacts the text whole when a registered secret holds a line break", async () => {
    registerSecret("first half\nsecond half");
    // A long line before the break, so the chunk ends between the secret's two halves.
    const lines = [
      ...bigText(2_000),
      `${"z".repeat(70_000)} ends with first half`,
      "second half starts this",
    ];
    const whole = collector();
    println(whole.stream, lines.join("\n"));
    const chunked = collector();
    await printPieces(chunked.stream, joinLines(lines));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(chunked.text(), whole.text());
    assert.match(chunked.text(), /ends with \[REDACTED\] starts this/);
  });

  it("waits for a slow reader to drain before it makes the next chunk", async () => {
    let made = 0;
    let maxAhead = 0;
    let written = 0;
    const slow = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        // Release the chunk on a later turn, as a pipe that a reader empties does.
        setImmediate(callback);
      },
    });
    function* pieces(): Generator<string> {
      for (let i = 0; i < 4000; i++) {
        made += 100;
        maxAhead = Math.max(maxAhead, made - written);
        yield `${"y".repeat(99)}\n`;
      }
    }
    await printPieces(slow, pieces());
    // Never more than a chunk or two made ahead of what the stream has taken.
    assert.ok(maxAhead < 3 * 64 * 1024, `${maxAhead} characters ahead`);
    assert.equal(written, 4000 * 100 + 1);
  });
});
