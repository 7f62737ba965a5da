namespace PublishingPoint.Media.MpegTs;

/// <summary>
/// Turns 33-bit PTS/DTS values (ISO/IEC 13818-1 2.4.3.7) into one 64-bit timeline shared by all streams of the
/// program: each value is unwrapped to the candidate nearest the previous one, so the 2^33 wrap (every ~26.5 h)
/// continues upward. A jump larger than <see cref="MaxJump90k"/> either way (an encoder restart, a spliced source:
/// what discontinuity_indicator announces) is re-based so the timeline resumes just after the latest time seen.
/// </summary>
internal sealed class TsTimeline
{
    public const long MaxJump90k = 10 * 90_000;
    private const long Wrap = 1L << 33;
    private const long ResumeStep90k = 3_600;

    private bool _started;
    private bool _continuing;
    private long _lastExtended;
    private long _offset;
    private long _highest;

    public int Discontinuities { get; private set; }

    /// <summary>The latest time on the timeline so far; null before the first.</summary>
    public long? Highest => _started ? _highest : null;

    /// <summary>
    /// Continues a timeline an earlier input of the same stream left at <paramref name="last90k"/> (the next HLS segment
    /// PUT, a reconnected push): a first time within <see cref="MaxJump90k"/> of it, once unwrapped next to it, carries on
    /// there, so the 2^33 wrap between two inputs continues upward. One further away (another clock: an encoder
    /// restarted, a stray file) starts on its own times, as an input without a past does.
    /// </summary>
    public void Continue(long last90k)
    {
        _started = true;
        _continuing = true;
        _lastExtended = last90k;
        _highest = last90k;
        _offset = 0;
    }

    public long Unwrap(long raw)
    {
        raw &= TsConstants.TimestampMask;
        if (!_started)
        {
            _started = true;
            _lastExtended = raw;
            _highest = raw;
            return raw;
        }

        var k = (_lastExtended - raw + (Wrap / 2)) >> 33;
        var extended = raw + (k * Wrap);
        var continuing = _continuing;
        _continuing = false;
        if (continuing && Math.Abs(extended - _lastExtended) > MaxJump90k)
        {
            _lastExtended = raw;
            _highest = raw;
            return raw;
        }

        if (Math.Abs(extended - _lastExtended) > MaxJump90k)
        {
            Discontinuities++;
            _offset = _highest + ResumeStep90k - extended;
        }

        _lastExtended = extended;
        var result = extended + _offset;
        _highest = Math.Max(_highest, result);
        return result;
    }

    /// <summary>Where <paramref name="raw"/> (a time another stream of the program names, e.g. a splice time) falls on the timeline, without moving it.</summary>
    public long Place(long raw)
    {
        raw &= TsConstants.TimestampMask;
        if (!_started)
        {
            return raw;
        }

        var k = (_lastExtended - raw + (Wrap / 2)) >> 33;
        return raw + (k * Wrap) + _offset;
    }

    /// <summary>The unwrapped value of <paramref name="raw"/> given a nearby unwrapped reference (PTS from its DTS).</summary>
    public static long Near(long reference, long raw)
    {
        var delta = (raw - reference) & TsConstants.TimestampMask;
        return delta >= Wrap / 2 ? reference + delta - Wrap : reference + delta;
    }
}
