import { BaseAnthropic } from '@anthropic-ai/sdk/client'
import { Messages } from '@anthropic-ai/sdk/resources/messages/messages'

/**
 * The SDK's client with the one resource routecheck calls besides `post`:
 * messages (with its batches). `Anthropic` builds every resource of the API
 * (beta, files, skills, …) and brings them all into the bundle: 1.3 MB and
 * 53–57 ms to import, against 0.34 MB and 20–28 ms for this one.
 */
export class MessagesClient extends BaseAnthropic {
  readonly messages = new Messages(this)
}
