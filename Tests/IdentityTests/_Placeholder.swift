enum _PlaceholderIdentityTests {}
