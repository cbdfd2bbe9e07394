import { authorize } from '../authorize.js'
import { fail } from '../errors.js'
import type { Operation } from '../operation.js'
import { requireNotPendingDeletion, resolveKey } from '../resolve.js'
import { mergeTags, readTags } from '../tags.js'
import { optStringList, paginate, reqString } from '../wire.js'

/** Tagging operations. Internal. */
export const taggingOperations: Record<string, Operation> = {
  TagResource: {
    mutating: true,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: false })
      const tags = readTags(input)
      // Precondition: at least one tag.
      if (!tags || tags.length === 0)
        throw fail.validation(
          "1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null",
        )
      authorize(ctx, key, 'TagResource')
      requireNotPendingDeletion(key)
      key.tags = mergeTags(key.tags, tags)
      return {}
    },
  },

  UntagResource: {
    mutating: true,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: false })
      const keys = optStringList(input, 'TagKeys', 50)
      if (!keys)
        throw fail.validation(
          "1 validation error detected: Value null at 'tagKeys' failed to satisfy constraint: Member must not be null",
        )
      authorize(ctx, key, 'UntagResource')
      requireNotPendingDeletion(key)
      key.tags = key.tags.filter((t) => !keys.includes(t.TagKey))
      return {}
    },
  },

  ListResourceTags: {
    mutating: false,
    run(ctx, input) {
      const key = resolveKey(ctx, reqString(input, 'KeyId'), { crossAccount: false })
      authorize(ctx, key, 'ListResourceTags')
      const { page, ...rest } = paginate(key.tags, input, 50)
      return { Tags: page, ...rest }
    },
  },
}
