// The shop's MongoDB collections, $jsonSchema validators and indexes, for a MongoDB user to apply by
// hand with mongosh — from collections.json, the same definitions the shop applies at start-up
// (`flask --app shop init-db`). Idempotent: run it again after an upgrade.
//
//     mongosh "mongodb://HOST:27017/shop" --file database/mongo/schema.js
//
// (mongosh is on the npm registry: `npx mongosh@2.12.0 …` works without installing it.)
const fs = require('fs');
const path = require('path');

const schema = JSON.parse(fs.readFileSync(path.join(__dirname, 'collections.json'), 'utf8'));
const existing = db.getCollectionNames();

for (const [name, spec] of Object.entries(schema)) {
  if (name.startsWith('_')) continue;
  const validator = spec.validator || {};
  if (existing.includes(name)) {
    db.runCommand({ collMod: name, validator, validationLevel: 'strict', validationAction: 'error' });
  } else {
    db.createCollection(name, { validator });
  }
  for (const index of spec.indexes || []) {
    const keys = {};
    for (const [field, direction] of index.keys) keys[field] = direction;
    db.getCollection(name).createIndex(keys, {
      name: index.name, unique: Boolean(index.unique), sparse: Boolean(index.sparse),
    });
  }
  print(`${db.getName()}.${name}: validator and ${(spec.indexes || []).length} index(es) in place`);
}
