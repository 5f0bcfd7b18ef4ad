import type { Reporter, SerializedError, TestModule } from 'vitest/node';

/**
 * Prints the plain closing line `N passed, N failed` (plus skipped) that CI
 * reads, after vitest's own summary. A file that failed outside its tests (a
 * failing `beforeAll`, an import error) counts its unrun tests as failed, and
 * unhandled errors count too: the line never reads clean when the run is not.
 */
export default class PlainCountReporter implements Reporter {
  onTestRunEnd(
    testModules: ReadonlyArray<TestModule>,
    unhandledErrors: ReadonlyArray<SerializedError>,
  ): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    let skipped = 0;
    for (const module of testModules) {
      let moduleFailed = 0;
      let moduleSkipped = 0;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') moduleFailed += 1;
        else moduleSkipped += 1;
      }
      if (module.state() === 'failed' && moduleFailed === 0) {
        // The file broke before or around its tests: none of them can be called skipped.
        moduleFailed = Math.max(1, moduleSkipped);
        moduleSkipped = 0;
      }
      failed += moduleFailed;
      skipped += moduleSkipped;
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  }
}
