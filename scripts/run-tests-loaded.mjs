// Runs the whole suite (or the files matching the given substrings, as run-tests.mjs) while two
// CPU-bound processes compete for the CPU for its whole duration: a test that only passes on an
// idle machine fails here. The load processes are killed at the end, whatever the outcome.
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";

const LOAD_PROCESSES = 2;
// Spin; now and then check the parent is still there, so a runner killed with SIGKILL leaves no
// orphan spinning.
const BURN =
  "const p = process.ppid; for (let i = 1; ; i++) if ((i & 0x3ffffff) === 0 && process.ppid !== p) process.exit();";
const burners = [];
/** The test runner, once started. */
let tests;
for (let i = 0; i < LOAD_PROCESSES; i++) {
  burners.push(spawn(process.execPath, ["-e", BURN], { stdio: "ignore" }));
}
const stopLoad = () => {
  for (const burner of burners)
    if (burner.exitCode === null && burner.signalCode === null) burner.kill("SIGKILL");
};
process.on("exit", stopLoad);

console.error(
  `run-tests-loaded: ${LOAD_PROCESSES} CPU-bound processes (pids ${burners.map((b) => b.pid).join(", ")}) ` +
    `alongside the suite on ${availableParallelism()} CPU(s)`,
);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    stopLoad();
    tests?.kill(signal);
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}
const started = Date.now();
tests = spawn(process.execPath, ["scripts/run-tests.mjs", ...process.argv.slice(2)], {
  stdio: "inherit",
});
tests.on("exit", (code, signal) => {
  stopLoad();
  console.error(
    `run-tests-loaded: suite finished in ${((Date.now() - started) / 1000).toFixed(1)} s under load`,
  );
  process.exit(code ?? (signal ? 1 : 0));
});
