//===- MemoryPlan.cpp - static buffer assignment of a per-rank step ------===//

#include "axonn/Analysis/MemoryPlan.h"

#include "axonn/Dialect/Axonn/IR/AxonnOps.h"

#include <map>

using namespace mlir;
using namespace mlir::axonn;

StringRef mlir::axonn::stringifyMemoryCategory(MemoryCategory category) {
  switch (category) {
  case MemoryCategory::weights:
    return "weights";
  case MemoryCategory::optimizer:
    return "optimizer state";
  case MemoryCategory::gradients:
    return "gradients";
  case MemoryCategory::activations:
    return "activations";
  case MemoryCategory::communication:
    return "communication buffers";
  }
  return "";
}

int64_t MemoryPlan::peakLiveTotal() const {
  int64_t sum = 0;
  for (int64_t bytes : peakLive)
    sum += bytes;
  return sum;
}

int64_t MemoryPlan::total() const {
  int64_t sum = workspace;
  for (int64_t bytes : persistent)
    sum += bytes;
  return sum;
}

namespace {

int64_t bytesOf(Type type, int64_t floatBytes) {
  auto tensor = dyn_cast<RankedTensorType>(type);
  if (!tensor)
    return 0;
  if (floatBytes > 0 && tensor.getElementType().isF32())
    return tensor.getNumElements() * floatBytes;
  int64_t bits = tensor.getElementTypeBitWidth();
  return tensor.getNumElements() * std::max<int64_t>(1, bits / 8);
}

int64_t alignUp(int64_t bytes, int64_t alignment) {
  return (bytes + alignment - 1) / alignment * alignment;
}

/// First-fit allocation in a workspace of unbounded size, with coalescing
/// of freed ranges.
class Arena {
public:
  int64_t allocate(int64_t size) {
    for (auto it = free.begin(); it != free.end(); ++it) {
      if (it->second < size)
        continue;
      int64_t offset = it->first, length = it->second;
      free.erase(it);
      if (length > size)
        free[offset + size] = length - size;
      return offset;
    }
    // Grow: take the free range at the end, if any, and extend it.
    int64_t offset = end;
    if (!free.empty()) {
      auto last = std::prev(free.end());
      if (last->first + last->second == end) {
        offset = last->first;
        free.erase(last);
      }
    }
    end = offset + size;
    return offset;
  }
  void release(int64_t offset, int64_t size) {
    auto [it, inserted] = free.emplace(offset, size);
    (void)inserted;
    auto next = std::next(it);
    if (next != free.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free.erase(next);
    }
    if (it != free.begin()) {
      auto prev = std::prev(it);
      if (prev->first + prev->second == it->first) {
        prev->second += it->second;
        free.erase(it);
      }
    }
  }
  int64_t size() const { return end; }

private:
  std::map<int64_t, int64_t> free; // offset -> length
  int64_t end = 0;
};

} // namespace

FailureOr<MemoryPlan> mlir::axonn::planMemory(func::FuncOp func,
                                              int64_t alignment,
                                              int64_t floatBytes) {
  MemoryPlan plan;
  if (func.isExternal())
    return plan;
  if (!func.getBody().hasOneBlock())
    return func.emitOpError() << "has more than one block; memory planning "
                                 "handles straight-line functions";
  Block &body = func.getBody().front();

  // Which value's buffer each value lives in (itself, or the buffer it
  // reduces in place or updates in place).
  llvm::DenseMap<Value, Value> bufferOf;
  auto root = [&](Value value) {
    auto it = bufferOf.find(value);
    return it == bufferOf.end() ? value : it->second;
  };
  // An all-reduce reduces in place unless its input is read again later
  // (the residual stream keeps a partial sum next to its reduced copy).
  auto onlyUse = [](Value input, Operation *reduce) {
    return llvm::all_of(input.getUsers(),
                        [&](Operation *user) { return user == reduce; });
  };
  for (Operation &op : body) {
    if (auto wait = dyn_cast<WaitOp>(op)) {
      Operation *start = wait.getHandle().getDefiningOp();
      if (isa<AllReduceStartOp>(start) && onlyUse(start->getOperand(0), start))
        bufferOf[wait.getResult()] = root(start->getOperand(0));
    } else if (auto reduce = dyn_cast<AllReduceOp>(op)) {
      if (onlyUse(reduce.getInput(), reduce))
        bufferOf[reduce.getResult()] = root(reduce.getInput());
    } else if (auto adamw = dyn_cast<AdamWOp>(op)) {
      bufferOf[adamw.getNewParam()] = root(adamw.getParam());
      bufferOf[adamw.getNewM()] = root(adamw.getM());
      bufferOf[adamw.getNewV()] = root(adamw.getV());
      if (adamw.getMaster())
        bufferOf[adamw.getNewMaster()] = root(adamw.getMaster());
    }
  }

  // Categories: arguments by role; gradients are what flows into an AdamW
  // gradient operand; gathered weights are communication buffers.
  for (BlockArgument arg : body.getArguments()) {
    unsigned i = arg.getArgNumber();
    MemoryCategory category = MemoryCategory::activations;
    if (func.getArgAttr(i, AxonnDialect::kParamAttrName))
      category = MemoryCategory::weights;
    else if (func.getArgAttr(i, AxonnDialect::kStateAttrName))
      category = MemoryCategory::optimizer;
    plan.categories[arg] = category;
  }
  SmallVector<Value> worklist;
  for (Operation &op : body)
    if (auto adamw = dyn_cast<AdamWOp>(op))
      worklist.push_back(adamw.getGrad());
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    if (!plan.categories.try_emplace(value, MemoryCategory::gradients).second)
      continue;
    Operation *def = value.getDefiningOp();
    if (!def)
      continue;
    if (auto wait = dyn_cast<WaitOp>(def))
      worklist.push_back(wait.getHandle().getDefiningOp()->getOperand(0));
    else if (isa<AllReduceOp, ReduceScatterOp, AllReduceStartOp,
                 ReduceScatterStartOp, AddOp>(def))
      for (Value operand : def->getOperands())
        worklist.push_back(operand);
  }
  for (Operation &op : body) {
    for (Value result : op.getResults()) {
      if (plan.categories.count(result))
        continue;
      bool gathered = isa<AllGatherOp>(op);
      if (auto wait = dyn_cast<WaitOp>(op))
        gathered = isa<AllGatherStartOp>(wait.getHandle().getDefiningOp());
      plan.categories[result] = gathered ? MemoryCategory::communication
                                         : MemoryCategory::activations;
    }
  }

  // Buffers held across the step: parameters, optimizer state and the
  // inputs (tokens, targets, step).
  for (BlockArgument arg : body.getArguments())
    plan.persistent[static_cast<size_t>(plan.categories[arg])] +=
        alignUp(bytesOf(arg.getType(), floatBytes), alignment);

  // Liveness: the index of the last op that needs each buffer. A
  // collective's input stays live until its wait (it is read while the
  // collective is in flight); returned values until the end.
  llvm::DenseMap<Operation *, int64_t> index;
  int64_t n = 0;
  for (Operation &op : body)
    index[&op] = n++;
  llvm::DenseMap<Value, int64_t> lastUse;
  auto use = [&](Value value, int64_t at) {
    Value buffer = root(value);
    int64_t &last = lastUse[buffer];
    last = std::max(last, at);
  };
  for (Operation &op : body) {
    int64_t at = index[&op];
    if (auto wait = dyn_cast<WaitOp>(op)) {
      Operation *start = wait.getHandle().getDefiningOp();
      use(start->getOperand(0), at);
    }
    for (Value operand : op.getOperands())
      use(operand, at);
  }

  // Simulate: at each op, allocate the buffers of its new results, then
  // free the buffers whose last use it is.
  Arena arena;
  std::array<int64_t, kNumMemoryCategories> live{};
  int64_t peak = -1;
  llvm::DenseMap<int64_t, SmallVector<Value>> dying;
  for (auto [buffer, last] : lastUse)
    dying[last].push_back(buffer);
  auto isTemporary = [&](Value value) {
    return !isa<BlockArgument>(value) && root(value) == value &&
           isa<RankedTensorType>(value.getType());
  };
  llvm::DenseMap<Value, int64_t> sizes;
  // An asynchronous collective writes its result while in flight: the
  // buffer exists from the start, not from the wait.
  // So does an all-reduce that cannot work in place (its wait's result is
  // then a buffer of its own).
  auto newBuffers = [&](Operation &op) {
    SmallVector<Value> values;
    if (isa<AllGatherStartOp, ReduceScatterStartOp, AllReduceStartOp>(op))
      values.push_back(
          cast<WaitOp>(*op.getResult(0).getUsers().begin()).getResult());
    else if (!isa<WaitOp>(op))
      llvm::append_range(values, op.getResults());
    return values;
  };
  for (Operation &op : body) {
    int64_t at = index[&op];
    for (Value result : newBuffers(op)) {
      if (!isTemporary(result))
        continue;
      int64_t size = alignUp(bytesOf(result.getType(), floatBytes), alignment);
      sizes[result] = size;
      plan.offsets[result] = arena.allocate(size);
      live[static_cast<size_t>(plan.categories[result])] += size;
    }
    int64_t total = 0;
    for (int64_t bytes : live)
      total += bytes;
    if (total > peak) {
      peak = total;
      plan.peakLive = live;
      plan.peakOp = &op;
    }
    // A result nobody reads dies at once.
    for (Value result : newBuffers(op))
      if (isTemporary(result) && !lastUse.count(result))
        dying[at].push_back(result);
    for (Value buffer : dying.lookup(at)) {
      if (!isTemporary(buffer) || isa<func::ReturnOp>(op))
        continue;
      arena.release(plan.offsets[buffer], sizes[buffer]);
      live[static_cast<size_t>(plan.categories[buffer])] -= sizes[buffer];
    }
  }
  // Aliases share their buffer's offset.
  for (auto [value, buffer] : bufferOf)
    if (plan.offsets.count(buffer))
      plan.offsets[value] = plan.offsets[buffer];
  plan.workspace = arena.size();
  return plan;
}
