#!/usr/bin/env node
import { PACKAGE } from './index.js'

process.stdout.write(`${PACKAGE}\n`)
