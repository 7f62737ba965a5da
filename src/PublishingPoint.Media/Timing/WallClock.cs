using System.Globalization;

namespace PublishingPoint.Media.Timing;

/// <summary>Wall-clock times as operators and players write them: ISO 8601, or Unix seconds (fractions allowed).</summary>
public static class WallClock
{
    public static bool TryParse(string? text, out DateTimeOffset time)
    {
        time = default;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var unix))
        {
            if (unix is < 0 or > 253402300799)
            {
                return false;
            }

            time = DateTimeOffset.FromUnixTimeMilliseconds((long)(unix * 1000));
            return true;
        }

        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out time);
    }
}
