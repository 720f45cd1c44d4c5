'use strict'
// Shared plumbing for the repo-local AWS stand-in launchers (kinesalite.js, dynalite.js).
// Usage: node <launcher>.js --port N --path DIR [--host 127.0.0.1]
// Binds to 127.0.0.1 unless --host says otherwise (only docker/ passes 0.0.0.0, inside a container).
const fs = require('fs')

function parseArgs (argv) {
  const args = { host: '127.0.0.1' }
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]
    const value = argv[i + 1]
    if (!key.startsWith('--') || value === undefined) {
      throw new Error(`bad argument ${JSON.stringify(key)}; usage: --port N --path DIR [--host ADDR]`)
    }
    args[key.slice(2)] = value
  }
  const port = Number(args.port)
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`--port must be 1..65535, got ${args.port}`)
  if (!args.path) throw new Error('--path DIR is required (LevelDB data directory, so data survives a restart)')
  return { host: args.host, port, path: args.path }
}

// Start `server` (an http.Server from kinesalite/dynalite) and shut it down cleanly on SIGTERM/SIGINT,
// so LevelDB is closed (and its lock released) before the process exits.
// `checkStore(path)` opens and closes the LevelDB store first: the libraries open it lazily, and a store
// locked by another process would otherwise fail every request (dynalite) or crash later (kinesalite).
async function serve (name, makeServer, checkStore) {
  let args
  try {
    args = parseArgs(process.argv.slice(2))
  } catch (err) {
    console.error(`${name}: ${err.message}`)
    process.exit(2)
  }
  fs.mkdirSync(args.path, { recursive: true })
  try {
    await checkStore(args.path)
  } catch (err) {
    const cause = err.cause ? ` (${err.cause.message})` : ''
    console.error(`${name}: cannot open its LevelDB store at ${args.path}: ${err.message}${cause}. ` +
      `Is another ${name} using this directory? Stop it first.`)
    process.exit(1)
  }
  const server = makeServer(args.path)
  server.on('error', (err) => {
    const hint = err.code === 'EADDRINUSE' ? ' (port already in use: choose another port)' : ''
    console.error(`${name}: cannot listen on ${args.host}:${args.port}: ${err.message}${hint}`)
    process.exit(1)
  })
  server.listen(args.port, args.host, () => {
    console.log(`${name} listening on http://${args.host}:${args.port} (data: ${args.path}, pid ${process.pid})`)
  })
  let stopping = false
  const stop = (signal) => {
    if (stopping) return
    stopping = true
    console.log(`${name}: ${signal} received, closing`)
    // Never hang on a slow close: the caller escalates to SIGKILL anyway, but exit on our own first.
    setTimeout(() => process.exit(0), 3000).unref()
    server.close((err) => {
      if (err) console.error(`${name}: error while closing: ${err.message}`)
      process.exit(err ? 1 : 0)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

module.exports = { parseArgs, serve }
