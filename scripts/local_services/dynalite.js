'use strict'
// DynamoDB stand-in: dynalite persisted to LevelDB at --path, bound to 127.0.0.1.
const dynalite = require('dynalite')
const { serve } = require('./serve')

// Short state transitions keep `make services-up` and tests fast (defaults are 500 ms each).
serve('dynalite', (path) => dynalite({ path, createTableMs: 50, deleteTableMs: 50, updateTableMs: 50 }))
