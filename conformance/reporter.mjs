// A node:test reporter for conformance/report.ts: one JSON line per top-level test (name, passed).
export default async function* conformanceReporter(source) {
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0 && !event.data.details?.type) {
      yield `${JSON.stringify({ name: event.data.name, passed: event.type === 'test:pass' && !event.data.skip && !event.data.todo, file: event.data.file })}\n`;
    }
  }
}
