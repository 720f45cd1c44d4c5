'use strict'
// Kinesis stand-in: kinesalite persisted to LevelDB at --path, bound to 127.0.0.1.
const kinesalite = require('kinesalite')
const leveldown = require('leveldown') // the store kinesalite uses for a --path
const { serve } = require('./serve')

function checkStore (path) {
  const db = leveldown(path)
  return new Promise((resolve, reject) => {
    db.open((err) => (err ? reject(err) : db.close((closeErr) => (closeErr ? reject(closeErr) : resolve()))))
  })
}

// Short state transitions keep `make services-up` and tests fast (defaults are 500 ms each).
serve('kinesalite', (path) => kinesalite({ path, createStreamMs: 50, deleteStreamMs: 50, updateStreamMs: 50, shardLimit: 50 }), checkStore)
