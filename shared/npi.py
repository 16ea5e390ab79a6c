"""National Provider Identifiers: ten digits, the last a Luhn check digit over 80840 + the first nine."""

_LUHN_DOUBLE = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # digit d doubled, digits of the product summed


def npi_check_digit(first9: str) -> str:
    """The NPI check digit: the Luhn check digit over "80840" followed by the NPI's first nine digits."""
    if len(first9) != 9 or not first9.isascii() or not first9.isdigit():
        raise ValueError(f"expected 9 digits, got {first9!r}")
    # Luhn doubles every second digit counting from the right of the payload (the check digit will sit to
    # its right), i.e. positions 0, 2, 4, 6, 8 of first9; the prefix 80840 then always contributes 24.
    d = [ord(ch) - 48 for ch in first9]
    total = 24 + d[1] + d[3] + d[5] + d[7]
    total += _LUHN_DOUBLE[d[0]] + _LUHN_DOUBLE[d[2]] + _LUHN_DOUBLE[d[4]] + _LUHN_DOUBLE[d[6]] + _LUHN_DOUBLE[d[8]]
    return str(-total % 10)


def is_valid_npi(npi: str) -> bool:
    """True for ten ASCII digits starting with 1 or 2 whose last digit is the Luhn check digit."""
    if not isinstance(npi, str) or len(npi) != 10 or not npi.isascii() or not npi.isdigit():
        return False
    if npi[0] not in "12":
        return False
    return npi_check_digit(npi[:9]) == npi[9]
