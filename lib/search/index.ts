export { majorityVote, scoreSamples, bestOfN, type ScoredSample, type Scorer, type VoteResult } from './vote.js';
