// Print what Node's dotenv.parse returns for each file named on the command line, as one JSON
// object {path: parsed}. The Python differential tests compare their parser against this.
'use strict'

const fs = require('fs')
const dotenv = require('dotenv')

const result = {}
for (const path of process.argv.slice(2)) {
  result[path] = dotenv.parse(fs.readFileSync(path))
}
process.stdout.write(JSON.stringify(result) + '\n')
