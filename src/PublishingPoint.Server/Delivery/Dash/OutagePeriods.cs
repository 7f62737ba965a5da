using PublishingPoint.Media.Dash;

namespace PublishingPoint.Server.Delivery.Dash;

/// <summary>
/// A static MPD across an encoder's outage: one Period per stretch of media the point was fed without a break, each
/// starting where the one before ends (the outage's empty time is left out, as the HLS VOD playlists' discontinuity
/// leaves it out). In one Period the outage was a hole in the timeline that dash.js stopped at: it plays a segment,
/// finds none at the next instant and waits. DASH-IF IOP: a new Period at an encoder discontinuity.
/// </summary>
internal static class OutagePeriods
{
    // A hole shorter than this in every representation at once is the edge jitter of audio against video, not an outage.
    private const long Tolerance = TimeSpan.TicksPerSecond;

    /// <summary>One stretch: media time [From, To) in 100 ns ticks (segment times as listed, lift included).</summary>
    internal readonly record struct Stretch(long From, long To);

    /// <summary>The stretches the segments of every representation cover together; one when nothing stopped them all.</summary>
    public static List<Stretch> Stretches(IReadOnlyList<DashAdaptationSet> sets)
    {
        var spans = new List<Stretch>();
        foreach (var template in sets.SelectMany(s => s.Representations).Select(r => r.SegmentTemplate))
        {
            foreach (var segment in template.Segments)
            {
                spans.Add(new Stretch(Ticks(segment.Time, template.Timescale), Ticks(segment.Time + segment.Duration, template.Timescale)));
            }
        }

        spans.Sort((a, b) => a.From.CompareTo(b.From));
        var stretches = new List<Stretch>();
        foreach (var span in spans)
        {
            if (stretches.Count > 0 && span.From <= stretches[^1].To + Tolerance)
            {
                stretches[^1] = stretches[^1] with { To = Math.Max(stretches[^1].To, span.To) };
            }
            else
            {
                stretches.Add(span);
            }
        }

        return stretches;
    }

    /// <summary>
    /// The Periods: each representation's segments that start in a stretch, with that stretch's start as period time 0
    /// (presentationTimeOffset, rounded down in each timescale); SCTE-35 events by the stretch they start in.
    /// </summary>
    /// <param name="liftTicks">How far segment times are lifted above media time (events are in media time).</param>
    public static List<DashPeriod> Split(IReadOnlyList<DashAdaptationSet> sets, List<Stretch> stretches, IReadOnlyList<DashEvents> events, long liftTicks)
    {
        var periods = new List<DashPeriod>(stretches.Count);
        var start = TimeSpan.Zero;
        for (var k = 0; k < stretches.Count; k++)
        {
            var stretch = stretches[k];
            var until = k + 1 < stretches.Count ? stretches[k + 1].From : long.MaxValue;
            var periodSets = new List<DashAdaptationSet>();
            foreach (var set in sets)
            {
                var representations = set.Representations
                    .Select(r => r with { SegmentTemplate = Within(r.SegmentTemplate, stretch.From, until) })
                    .Where(r => r.SegmentTemplate.Segments.Count > 0)
                    .ToList();
                if (representations.Count > 0)
                {
                    periodSets.Add(set with { Representations = representations });
                }
            }

            var origin = stretch.From - liftTicks;
            periods.Add(new DashPeriod
            {
                Id = k.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Start = start,
                AdaptationSets = periodSets,
                EventStreams = [.. events
                    .Select(e => e with { PresentationTimeOffset = origin, Events = [.. e.Events.Where(x => x.PresentationTime >= origin && x.PresentationTime < until - liftTicks)] })
                    .Where(e => e.Events.Count > 0)],
            });
            start += TimeSpan.FromTicks(stretch.To - stretch.From);
        }

        return periods;
    }

    /// <summary>The template's segments that start in [from, until) (ticks), period time 0 at <paramref name="from"/>.</summary>
    private static DashSegmentTemplate Within(DashSegmentTemplate template, long from, long until)
    {
        var numbers = new List<long>();
        var segments = new List<DashSegment>();
        for (var i = 0; i < template.Segments.Count; i++)
        {
            var at = Ticks(template.Segments[i].Time, template.Timescale);
            if (at >= from && at < until)
            {
                segments.Add(template.Segments[i]);
                numbers.Add(template.NumberAt(i));
            }
        }

        var runsOn = numbers.Count == 0 || numbers[^1] - numbers[0] == numbers.Count - 1;
        return template with
        {
            PresentationTimeOffset = (long)((Int128)from * template.Timescale / TimeSpan.TicksPerSecond),
            StartNumber = numbers.Count > 0 ? numbers[0] : template.StartNumber,
            Numbers = template.Numbers is null || runsOn ? null : numbers,
            Segments = segments,
        };
    }

    /// <summary>A time in <paramref name="timescale"/> as 100 ns ticks, rounded down.</summary>
    internal static long Ticks(long time, uint timescale) => (long)((Int128)time * TimeSpan.TicksPerSecond / timescale);
}
