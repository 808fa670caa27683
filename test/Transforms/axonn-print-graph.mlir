// --axonn-print-graph draws one transformer block of a per-rank step, or
// the grid, as Graphviz (DOT); Debian's graphviz renders both
// (docs/pictures/ holds the pictures of this test's model).
//
// 1. Layer 1 of the tiny GPT on 2x2x2x2 after the training pipeline:
//    forward and backward as two clusters, collectives coloured by axis
//    (z green for the weight gathers, x red and y blue for the
//    activation all-reduces), each asynchronous flight a dashed span from
//    start to wait, values as arrows, the legend.
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | axonn-opt --axonn-training-pipeline="cluster=%S/Inputs/test-machine.json gpus=16 grid=2x2x2x2" -o %t.step.mlir
// RUN: axonn-opt %t.step.mlir --axonn-print-graph=layer=1 -o /dev/null > %t.block.dot
// RUN: FileCheck %s < %t.block.dot
// CHECK-LABEL: digraph "train_step layer 1" {
// CHECK:      subgraph cluster_0 {
// CHECK-NEXT:   label="forward";
// CHECK: [label="all_gather start over [z]\n3072 elements\n96x32", style="filled,bold", fillcolor="#2ca02c33", color="#2ca02c"];
// CHECK: [label="axonn.linear\ntransformer.h.1.attn.c_attn.weight\n2x32x96"];
// CHECK-NEXT: [label="all_reduce start over [x]\n6144 elements\n2x32x96", style="filled,bold", fillcolor="#d6272833", color="#d62728"];
// CHECK: [label="axonn.attention\n2x32x32"];
// CHECK:      subgraph cluster_1 {
// CHECK-NEXT:   label="backward";
// CHECK: [label="reduce_scatter start over [z]\n{{[0-9]+}} elements
// CHECK: -> {{op[0-9]+}} [style=dashed, color="#d62728", penwidth=2, label="in flight"];
// CHECK: legend_data [label="data", style=filled, fillcolor="#ff7f0e33", color="#ff7f0e"];
//
// 2. The grid: 16 ranks on 4 nodes of 4, each with its coordinates; per
//    axis, its groups (2 ranks each here: one edge per group).
// RUN: axonn-opt %t.step.mlir --axonn-print-graph=what=grid -o /dev/null > %t.grid.dot
// RUN: FileCheck %s --check-prefix=GRID < %t.grid.dot
// GRID: label="grid 2x2x2x2 on test-machine (4 per node)";
// GRID: subgraph cluster_node0 {
// GRID:   r1 [label="1\n(1,0,0,0)"];
// GRID: subgraph cluster_node3 {
// GRID:   r15 [label="15\n(1,1,1,1)"];
// GRID: r0 -> r1 [color="#d62728", label="x", fontcolor="#d62728"];
// GRID: r0 -> r2 [color="#1f77b4", label="y", fontcolor="#1f77b4"];
// GRID: r0 -> r4 [color="#2ca02c", label="z", fontcolor="#2ca02c"];
// GRID: r0 -> r8 [color="#ff7f0e", label="data", fontcolor="#ff7f0e"];
// RUN: grep -c " -> r" %t.grid.dot | FileCheck %s --check-prefix=EDGES
// EDGES: 32
//
// 3. Both render.
// RUN: %if graphviz %{ dot -Tsvg %t.block.dot -o %t.block.svg %}
// RUN: %if graphviz %{ dot -Tsvg %t.grid.dot -o %t.grid.svg %}
//
// 4. Refusals.
// RUN: not axonn-opt %t.step.mlir --axonn-print-graph=layer=7 -o /dev/null 2>&1 | FileCheck %s --check-prefix=LAYER
// LAYER: error: --axonn-print-graph: no op of @train_step reads a parameter of layer 7
// RUN: not axonn-opt %t.step.mlir --axonn-print-graph=what=tree -o /dev/null 2>&1 | FileCheck %s --check-prefix=WHAT
// WHAT: error: --axonn-print-graph: what must be block or grid, not 'tree'
// RUN: axonn-translate --import-model-spec %examples/models/tiny-gpt.json | not axonn-opt --axonn-print-graph=what=grid -o /dev/null 2>&1 | FileCheck %s --check-prefix=NOGRID
// NOGRID: error: --axonn-print-graph=what=grid needs an axonn.grid (run --axonn-plan first)
