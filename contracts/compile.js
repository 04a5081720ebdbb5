#!/usr/bin/env node
// Compile the project's Solidity with the pinned solc (npm "solc", standard JSON) and write one
// artifact per contract: {contractName, sourceName, compiler, abi, bytecode}.
//
//   node contracts/compile.js          write the artifacts
//   node contracts/compile.js --check  exit 1 (listing them) if any artifact is stale or missing
//
// contracts/src/<Name>.sol  -> operator_node/chain/artifacts/<Name>.json (shipped with the package)
// contracts/test/<Name>.sol -> contracts/test/artifacts/<Name>.json      (used by tests only)
// Only the contract named like its file is written; libraries, interfaces and abstract bases are
// inlined.
"use strict";

const fs = require("fs");
const path = require("path");
const solc = require("solc");

const ROOT = path.resolve(__dirname, "..");
const GROUPS = [
  { dir: "src", out: path.join(ROOT, "operator_node", "chain", "artifacts") },
  { dir: "test", out: path.join(__dirname, "test", "artifacts") },
];
// Fixed settings: the artifacts must be a pure function of the sources.
const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: "cancun",
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
};

function readSources() {
  const sources = {};
  for (const group of GROUPS) {
    for (const file of fs.readdirSync(path.join(__dirname, group.dir)).sort()) {
      if (file.endsWith(".sol")) {
        const name = `${group.dir}/${file}`;
        sources[name] = { content: fs.readFileSync(path.join(__dirname, name), "utf8") };
      }
    }
  }
  return sources;
}

function compile(sources) {
  const input = { language: "Solidity", sources, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (output.errors || []).filter((e) => e.severity === "error");
  for (const e of output.errors || []) {
    process.stderr.write(e.formattedMessage + "\n");
  }
  if (errors.length > 0) {
    throw new Error(`solc reported ${errors.length} error(s)`);
  }
  return output.contracts;
}

function artifacts(contracts) {
  const result = new Map();
  for (const group of GROUPS) {
    for (const [sourceName, byName] of Object.entries(contracts)) {
      if (!sourceName.startsWith(group.dir + "/")) continue;
      const name = path.basename(sourceName, ".sol");
      const contract = byName[name];
      // Libraries (empty ABI) are inlined into their users and abstract bases (no bytecode)
      // into their heirs: neither is deployed alone.
      if (!contract || contract.abi.length === 0 || contract.evm.bytecode.object === "") continue;
      const artifact = {
        contractName: name,
        sourceName: `contracts/${sourceName}`,
        compiler: solc.version(),
        abi: contract.abi,
        bytecode: "0x" + contract.evm.bytecode.object,
      };
      result.set(path.join(group.out, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
    }
  }
  return result;
}

function existing() {
  const files = [];
  for (const group of GROUPS) {
    if (!fs.existsSync(group.out)) continue;
    for (const file of fs.readdirSync(group.out)) {
      if (file.endsWith(".json")) files.push(path.join(group.out, file));
    }
  }
  return files;
}

function main() {
  const check = process.argv.includes("--check");
  const wanted = artifacts(compile(readSources()));
  const stale = [];
  for (const [file, text] of wanted) {
    const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : null;
    if (current === text) continue;
    stale.push(path.relative(ROOT, file));
    if (!check) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, text);
    }
  }
  const extra = existing().filter((f) => !wanted.has(f));
  for (const file of extra) {
    stale.push(path.relative(ROOT, file) + " (no source)");
    if (!check) fs.unlinkSync(file);
  }
  if (check && stale.length > 0) {
    process.stderr.write("stale contract artifacts (run `node contracts/compile.js`):\n");
    for (const s of stale) process.stderr.write(`  ${s}\n`);
    process.exit(1);
  }
  if (!check) process.stdout.write(`compiled ${wanted.size} contracts, ${stale.length} changed\n`);
}

main();
