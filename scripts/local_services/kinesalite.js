'use strict'
// Kinesis stand-in: kinesalite persisted to LevelDB at --path, bound to 127.0.0.1.
const kinesalite = require('kinesalite')
const { serve } = require('./serve')

// Short state transitions keep `make services-up` and tests fast (defaults are 500 ms each).
serve('kinesalite', (path) => kinesalite({ path, createStreamMs: 50, deleteStreamMs: 50, updateStreamMs: 50, shardLimit: 50 }))
