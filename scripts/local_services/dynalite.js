'use strict'
// DynamoDB stand-in: dynalite persisted to LevelDB at --path, bound to 127.0.0.1.
const dynalite = require('dynalite')
// The `level` package dynalite itself uses for a --path (resolved from dynalite, not hoisting).
const { Level } = require(require.resolve('level', { paths: [require.resolve('dynalite')] }))
const { serve } = require('./serve')

async function checkStore (path) {
  const db = new Level(path)
  await db.open()
  await db.close()
}

// Short state transitions keep `make services-up` and tests fast (defaults are 500 ms each).
serve('dynalite', (path) => dynalite({ path, createTableMs: 50, deleteTableMs: 50, updateTableMs: 50 }), checkStore)
