"""The Amazon Nova side: the RFT reward-function contract, a deployable reward Lambda, and Nova reward
functions (deployed or local) as TRL rewards for open models."""
