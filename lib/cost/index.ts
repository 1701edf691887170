export { priceFor, priceTraining, priceUsage, type CostPrices, type ModelPrice, type TokenUsage, type TrainerPrice, type TrainerUsage } from './price.js';
export { checkBudget, estimateStage, formatCost, type Budget, type BudgetVerdict, type Spend, type StageEstimate, type UsageSoFar } from './estimate.js';
