import { loadSources, formatLoadError } from '../../src/api/load.ts';
const r = await loadSources({ paths: process.argv.slice(2) });
for (const e of r.errors) console.log(formatLoadError(e));
for (const e of r.warnings) console.log('W', formatLoadError(e));
console.log(r.documents.map((d) => `${d.file}#${d.index} ${d.object.kind}/${d.object.metadata.name}`).join('\n'));
