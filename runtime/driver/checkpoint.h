//===- checkpoint.h - safetensors checkpoints, grid-independent -*- C++ -*-===//
//
// A checkpoint is a directory DIR/step-NNNNNNNN with
//   model.safetensors      the parameters, gathered into whole tensors with
//                          Hugging Face names and layouts (QKV and gate/up
//                          un-fused, GPT-2's Conv1D weights transposed, the
//                          vocabulary padding removed), float32 (a bf16
//                          run's parameters exactly);
//   optimizer.safetensors  AdamW's moments (and master weights) of every
//                          parameter, named "exp_avg/<name>",
//                          "exp_avg_sq/<name>", "master/<name>";
//   trainer.json           the step reached, the model's shape, the grid,
//                          the data offset (batches skipped, so that step s
//                          read batch s + offset),
//                          and (version 2) each safetensors file's size and
//                          CRC-32, which loading checks.
// It is written into a temporary directory, every file fsynced, renamed into
// place, and only then named by DIR/latest (itself replaced by rename), so a
// crash at any moment leaves the last good checkpoint intact. Being whole
// tensors, a checkpoint loads onto any grid.
//
//===----------------------------------------------------------------------===//

#ifndef AXONN_DRIVER_CHECKPOINT_H
#define AXONN_DRIVER_CHECKPOINT_H

#include "program.h"

#include <string>
#include <vector>

namespace axonn::driver {

/// One tensor of the training state on this rank.
struct StateTensor {
  std::string name;   // the parameter's name (axonn's, fused)
  std::string state;  // "" for the parameter, else m, v or master
  const Tensor *meta; // local shape and layout
  Placement placement;
  void *data;         // fp32, or bf16 (meta->dtype "bf16")
  /// A parameter's fp32 master weights (bf16 training), or null.
  const StateTensor *master = nullptr;

  float at(int64_t i) const {
    return meta->dtype == "bf16"
               ? axonn_bf16_to_float(static_cast<const axonn_bf16 *>(data)[i])
               : static_cast<const float *>(data)[i];
  }
  /// Sets element i, rounded to the tensor's type; a parameter's master
  /// weights get the value itself.
  void put(int64_t i, float value) const {
    if (meta->dtype == "bf16")
      static_cast<axonn_bf16 *>(data)[i] = axonn_bf16_from_float(value);
    else
      static_cast<float *>(data)[i] = value;
    if (master)
      master->put(i, value);
  }
};

/// Links every parameter of `tensors` to its master weights, if it has any.
void linkMasters(std::vector<StateTensor> &tensors);

/// A piece of a checkpoint file: `rows` of the (global, vocabulary-trimmed)
/// axonn tensor, in this order, each `rowElements` wide, transposed when
/// `transpose` (2-D only).
struct FilePart {
  std::string name;
  std::vector<int64_t> shape; // in the file
  std::vector<int64_t> rows;
  int64_t rowElements = 1;
  bool transpose = false;
};

/// How one axonn tensor appears in a Hugging Face checkpoint.
std::vector<FilePart> hfParts(const ModelInfo &model, const std::string &name,
                              const std::vector<int64_t> &globalShape,
                              int64_t vocabSize);

struct CheckpointOptions {
  std::string dir;
  int keep = 3; // checkpoints kept; older ones are removed
};

/// Writes the checkpoint of `step` completed steps (reading data from
/// batch `dataOffset` on). Collective: every rank calls it; rank 0 writes.
void saveCheckpoint(axonn_rt *rt, const CheckpointOptions &options,
                    const ModelInfo &model, int64_t vocabSize,
                    const int64_t grid[4], int64_t step, int64_t dataOffset,
                    uint64_t seed, const std::vector<StateTensor> &tensors);

/// The directory DIR/latest names, or "" if there is no DIR/latest; one
/// that is unreadable or names no checkpoint of DIR ends the run.
std::string latestCheckpoint(axonn_rt *rt, const std::string &dir);

/// Loads a checkpoint directory written by saveCheckpoint onto this rank's
/// pieces (parameters and optimizer state); returns the step it reached
/// and sets `dataOffset` to its data offset (0 where it has none).
/// The checkpoints in DIR (directories step-NNNNNNNN), in step order.
std::vector<std::string> checkpointsIn(const std::string &dir);

/// The most batches a run's data offset may pass over (--skip-batches, and
/// trainer.json's data_offset).
constexpr int64_t kMaxDataOffset = int64_t(1) << 40;

/// Whether checkpoint `path` (its real path) is in directory `dir`.
bool checkpointInDirectory(const std::string &path, const std::string &dir);

/// Whether DIR holds checkpoints (or a DIR/latest).
bool holdsCheckpoints(const std::string &dir);

/// A rollback (--resume-from a checkpoint of `step`): moves DIR's
/// checkpoints past `step`, of the run rolled back from, into
/// DIR/rolled-back-past-step-NNNNNNNN, so that --keep-checkpoints and
/// DIR/latest see only this run's (latest then names `resumedFrom` if it is
/// in DIR, else nothing until this run saves). Rank 0.
void setAsideCheckpointsPast(axonn_rt *rt, const std::string &dir, int64_t step,
                             const std::string &resumedFrom);

int64_t loadCheckpoint(axonn_rt *rt, const std::string &path,
                       const ModelInfo &model, int64_t vocabSize,
                       const std::vector<StateTensor> &tensors,
                       int64_t &dataOffset);

/// Loads parameters only from a safetensors model (a file, or a directory
/// with model.safetensors), e.g. to fine-tune (and their masters: the
/// loaded values themselves).
void loadModel(axonn_rt *rt, const std::string &path, const ModelInfo &model,
               int64_t vocabSize, const std::vector<StateTensor> &tensors);

} // namespace axonn::driver

#endif // AXONN_DRIVER_CHECKPOINT_H
