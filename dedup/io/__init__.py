"""Reading documents from files, directories and stdin; writing clean text and drop records."""
