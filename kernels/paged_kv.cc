#include "kernels/paged_kv.h"

#include <string>

namespace skipjoin::kernels {

Status ValidateAttentionBatch(const KvLayout& layout, const AttentionBatch& batch,
                              std::vector<int32_t>* token_seq) {
  const int32_t bs = layout.block_size;
  const int32_t total = batch.query_start[batch.num_seqs];
  if (batch.query_start[0] != 0 || total < 0) {
    return InvalidArgument("PagedAttention: query_start must start at 0 and end at the row count");
  }
  token_seq->assign(total, 0);
  for (int32_t s = 0; s < batch.num_seqs; ++s) {
    const int32_t q0 = batch.query_start[s], q1 = batch.query_start[s + 1];
    const int32_t ctx = batch.context_lens[s];
    if (q1 < q0 || q1 > total || ctx < q1 - q0) {
      return InvalidArgument("PagedAttention: sequence " + std::to_string(s) + " has " +
                             std::to_string(q1 - q0) + " queries but context " + std::to_string(ctx));
    }
    const int32_t blocks = (ctx + bs - 1) / bs;
    if (blocks > batch.max_blocks_per_seq) {
      return InvalidArgument("PagedAttention: sequence " + std::to_string(s) + " needs " +
                             std::to_string(blocks) + " blocks, table holds " +
                             std::to_string(batch.max_blocks_per_seq));
    }
    for (int32_t b = 0; b < blocks; ++b) {
      const int32_t id = batch.block_tables[int64_t{s} * batch.max_blocks_per_seq + b];
      if (id < 0 || id >= layout.num_blocks) {
        return InvalidArgument("PagedAttention: sequence " + std::to_string(s) + " block " +
                               std::to_string(b) + " is " + std::to_string(id) + ", pool has " +
                               std::to_string(layout.num_blocks));
      }
    }
    for (int32_t t = q0; t < q1; ++t) (*token_seq)[t] = s;
  }
  return Status::Ok();
}

}  // namespace skipjoin::kernels
