export { createModelClient, withRetries, classifyError, MalformedResponseError, type ModelEndpoint, type RetryEvent, type RetryOptions } from './client.js';
export { sampleChat, type Sample, type SampleRequest, type SampleResponse } from './sample.js';
