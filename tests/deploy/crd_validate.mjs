// Validates custom resources with the validators that @kubernetes-models generates from the
// KEDA and prometheus-operator API types (installed into .tools/node by scripts/tools.sh).
// stdin: a JSON array of resources; stdout: a JSON array, per resource null or an error text.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const MODELS = {
  "keda.sh/v1alpha1/ScaledObject": "@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject.js",
  "keda.sh/v1alpha1/TriggerAuthentication":
    "@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication.js",
  "monitoring.coreos.com/v1/ServiceMonitor":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor.js",
  "monitoring.coreos.com/v1/PrometheusRule":
    "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule.js",
};

const resources = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const resource of resources) {
  const path = MODELS[`${resource.apiVersion}/${resource.kind}`];
  if (!path) {
    results.push(`no validator for ${resource.apiVersion} ${resource.kind}`);
    continue;
  }
  const mod = await import(pathToFileURL(join(modules, path)).href);
  const Model = mod[resource.kind] ?? mod.default;
  try {
    new Model(resource).validate();
    results.push(null);
  } catch (err) {
    results.push(String(err && err.message ? err.message : err));
  }
}
process.stdout.write(JSON.stringify(results));
