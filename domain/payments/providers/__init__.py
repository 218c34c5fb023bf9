"""Payment providers behind one interface (`base.Provider`): stripe, sandbox, manual."""
