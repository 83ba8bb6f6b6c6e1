"""Customer-table modelling: preprocessing, the model zoo, Optuna tuning, SHAP explanations."""
