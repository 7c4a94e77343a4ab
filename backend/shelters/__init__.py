"""Child-protection shelter intake (一時保護所・児童福祉施設)."""
