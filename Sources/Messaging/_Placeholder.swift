enum _PlaceholderMessaging {}
