namespace PublishingPoint.Media.Timing;

/// <summary>
/// Exact timestamp rescaling. Convert absolute timestamps, never summed durations: each result is
/// round(value * to / from) computed in 128-bit integers, so no error accumulates and nothing overflows.
/// </summary>
public static class Timescale
{
    public const long MpegTs = 90_000;

    /// <summary>Rescales to the 90 kHz clock of MPEG-2 systems (PTS/DTS).</summary>
    public static long To90k(long value, long timescale) => Rescale(value, timescale, MpegTs);

    /// <summary>
    /// value * to / from rounded to nearest, ties toward +infinity. The rounding is the same for negative
    /// values (floor(x + 1/2)), so rescaling is monotonic and a shifted timeline rounds identically.
    /// </summary>
    public static long Rescale(long value, long from, long to)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(from);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(to);
        if (from == to)
        {
            return value;
        }

        var numerator = ((Int128)value * to * 2) + from;
        var denominator = (Int128)from * 2;
        var quotient = Int128.DivRem(numerator, denominator);
        var result = quotient.Quotient - (quotient.Remainder < 0 ? 1 : 0);
        return checked((long)result);
    }
}
