// Cross-check: compile every FHIRPath expression of profiles/ (invariants, search parameters) with the
// reference JavaScript engine and its R4 model, so the package does not rely on one engine's leniency.
// Usage (needs node and `npm install fhirpath` in some folder on NODE_PATH):
//   NODE_PATH=/path/to/node_modules node tools/profiles_src/check_fhirpath.js [profiles]
const fs = require('fs');
const path = require('path');
const fhirpath = require('fhirpath');
const r4 = require('fhirpath/fhir-context/r4');

const dir = process.argv[2] || path.join(__dirname, '..', '..', 'profiles');
let count = 0;
let failed = 0;
for (const file of fs.readdirSync(dir).sort()) {
  if (!file.endsWith('.json') || file === 'package.json' || file.startsWith('.')) continue;
  const resource = JSON.parse(fs.readFileSync(path.join(dir, file)));
  const expressions = [];
  if (resource.resourceType === 'SearchParameter') expressions.push([resource.id, resource.expression]);
  for (const element of (resource.differential || {}).element || []) {
    for (const c of element.constraint || []) expressions.push([`${resource.id} ${c.key}`, c.expression]);
  }
  for (const [name, expression] of expressions) {
    count += 1;
    try {
      fhirpath.compile(expression, r4);
    } catch (error) {
      failed += 1;
      console.log(`FAIL ${name}: ${String(error).slice(0, 300)}`);
    }
  }
}
console.log(`${count} expressions compiled, ${failed} failed`);
process.exit(failed ? 1 : 0);
