using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace PublishingPoint.Server.Tests.Dash;

/// <summary>An MPD as a test reads it (System.Xml.Linq), independent of the server's writer.</summary>
public sealed record MpdView(XElement Root, IReadOnlyList<MpdAdaptationSet> AdaptationSets)
{
    public static readonly XNamespace Ns = "urn:mpeg:dash:schema:mpd:2011";

    public string? Type => Attribute(Root, "type");

    public bool IsDynamic => Type == "dynamic";

    public IEnumerable<MpdRepresentation> Video => AdaptationSets.Where(s => s.ContentType == "video").SelectMany(s => s.Representations);

    public IEnumerable<MpdRepresentation> Audio => AdaptationSets.Where(s => s.ContentType == "audio").SelectMany(s => s.Representations);

    public string? Attribute(string name) => Attribute(Root, name);

    public TimeSpan? Duration(string name) => Attribute(name) is { } text ? XmlConvert.ToTimeSpan(text) : null;

    public DateTimeOffset? Date(string name) =>
        Attribute(name) is { } text ? DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal) : null;

    public static MpdView Parse(string text)
    {
        var root = XDocument.Parse(text).Root ?? throw new FormatException("empty MPD");
        if (root.Name != Ns + "MPD")
        {
            throw new FormatException($"root is {root.Name}, not MPD");
        }

        var periods = root.Elements(Ns + "Period").Select(period => new MpdPeriod(
            XmlConvert.ToTimeSpan(Attribute(period, "start") ?? "PT0S"),
            [.. period.Elements(Ns + "AdaptationSet").Select(set => new MpdAdaptationSet(
                set,
                Attribute(set, "contentType") ?? string.Empty,
                [.. set.Elements(Ns + "Representation").Select(r => MpdRepresentation.Parse(set, r))]))])).ToList();
        if (periods.Count == 0)
        {
            throw new FormatException("no Period");
        }

        // Every period's sets, in order (most MPDs have one period); Periods keeps them apart.
        return new MpdView(root, [.. periods.SelectMany(p => p.AdaptationSets)]) { Periods = periods };
    }

    public IReadOnlyList<MpdPeriod> Periods { get; init; } = [];

    internal static string? Attribute(XElement element, string name) => (string?)element.Attribute(name);
}

public sealed record MpdPeriod(TimeSpan Start, IReadOnlyList<MpdAdaptationSet> AdaptationSets)
{
    public IEnumerable<MpdRepresentation> Video => AdaptationSets.Where(s => s.ContentType == "video").SelectMany(s => s.Representations);

    public IEnumerable<MpdRepresentation> Audio => AdaptationSets.Where(s => s.ContentType == "audio").SelectMany(s => s.Representations);
}

public sealed record MpdAdaptationSet(XElement Element, string ContentType, IReadOnlyList<MpdRepresentation> Representations);

/// <summary>A Representation with its SegmentTemplate's (or SegmentList's) timeline expanded to (number, t, d).</summary>
public sealed record MpdRepresentation(
    XElement Element,
    string Id,
    long Bandwidth,
    string Codecs,
    uint Timescale,
    long PresentationTimeOffset,
    string Initialization,
    string Media,
    IReadOnlyList<MpdSegment> Segments)
{
    public string? Attribute(string name) => MpdView.Attribute(Element, name);

    public string InitializationUrl => Initialization.Replace("$RepresentationID$", Id, StringComparison.Ordinal);

    public string MediaUrl(MpdSegment segment) => segment.Url ?? Media
        .Replace("$RepresentationID$", Id, StringComparison.Ordinal)
        .Replace("$Number$", segment.Number.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("$Time$", segment.Time.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);

    /// <summary>Seconds from period start to the end of the last segment.</summary>
    public double EndSeconds => Segments.Count == 0 ? 0 : (double)(Segments[^1].Time + Segments[^1].Duration - PresentationTimeOffset) / Timescale;

    internal static MpdRepresentation Parse(XElement set, XElement representation)
    {
        var ns = MpdView.Ns;
        // A SegmentList names each segment (SegmentURL@media) in timeline order; a SegmentTemplate by $Number$ or $Time$.
        var list = representation.Element(ns + "SegmentList");
        var template = list ?? representation.Element(ns + "SegmentTemplate") ?? set.Element(ns + "SegmentTemplate")
            ?? throw new FormatException("no SegmentTemplate");
        var urls = list?.Elements(ns + "SegmentURL").Select(u => MpdView.Attribute(u, "media") ?? throw new FormatException("SegmentURL without media")).ToList();
        var timescale = uint.Parse(MpdView.Attribute(template, "timescale") ?? "1", CultureInfo.InvariantCulture);
        var pto = long.Parse(MpdView.Attribute(template, "presentationTimeOffset") ?? "0", CultureInfo.InvariantCulture);
        var number = long.Parse(MpdView.Attribute(template, "startNumber") ?? "1", CultureInfo.InvariantCulture);
        var segments = new List<MpdSegment>();
        var time = 0L;
        foreach (var s in template.Element(ns + "SegmentTimeline")?.Elements(ns + "S") ?? [])
        {
            time = MpdView.Attribute(s, "t") is { } t ? long.Parse(t, CultureInfo.InvariantCulture) : time;
            var d = long.Parse(MpdView.Attribute(s, "d")!, CultureInfo.InvariantCulture);
            var r = int.Parse(MpdView.Attribute(s, "r") ?? "0", CultureInfo.InvariantCulture);
            for (var i = 0; i <= r; i++)
            {
                segments.Add(new MpdSegment(number++, time, d, urls is null ? null : urls[segments.Count]));
                time += d;
            }
        }

        return new MpdRepresentation(
            representation,
            MpdView.Attribute(representation, "id")!,
            long.Parse(MpdView.Attribute(representation, "bandwidth")!, CultureInfo.InvariantCulture),
            MpdView.Attribute(representation, "codecs") ?? MpdView.Attribute(set, "codecs") ?? string.Empty,
            timescale,
            pto,
            list is null ? MpdView.Attribute(template, "initialization")! : MpdView.Attribute(list.Element(ns + "Initialization")!, "sourceURL")!,
            list is null ? MpdView.Attribute(template, "media")! : string.Empty,
            urls is null || urls.Count == segments.Count ? segments : throw new FormatException($"{urls.Count} SegmentURLs for {segments.Count} segments"));
    }
}

/// <summary>A segment of the timeline; <paramref name="Url"/> its SegmentURL in a SegmentList, else null (the template names it).</summary>
public readonly record struct MpdSegment(long Number, long Time, long Duration, string? Url = null);
