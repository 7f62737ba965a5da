using System.Reflection;
using NetArchTest.Rules;
using PublishingPoint.Server.Hosting;

namespace PublishingPoint.Server.Tests.Architecture;

/// <summary>
/// The rules of docs/architecture.md, checked on the compiled server (every type reference, whether written with a
/// using, a qualified name or a global using): each part names only the parts below it.
/// </summary>
public sealed class PartDependencyTests
{
    private const string Root = "PublishingPoint.Server.";

    // A part and the parts it may name (besides itself, the media library and the framework). Hosting, the composition
    // root, may name every part; the others may name only its problem writer.
    public static readonly TheoryData<string, string[]> Parts = new()
    {
        { "Configuration", [] },
        { "Archive", [] },
        { "Transport", ["Configuration"] },
        { "Points", ["Configuration", "Archive"] },
        { "Ingest", ["Configuration", "Archive", "Points"] },
        { "Delivery", ["Configuration", "Archive", "Points", "Transport"] },
        { "Admin", ["Configuration", "Archive", "Points", "Ingest", "Delivery"] },
        { "Publishing", ["Configuration", "Archive", "Points", "Transport", "Delivery", "Admin"] },
        { "Observability", ["Configuration", "Archive", "Points", "Transport", "Delivery", "Publishing"] },
    };

    private static readonly Assembly _server = typeof(Problems).Assembly;

    private static readonly string[] _allParts = [.. Parts.Select(row => (string)row[0]), "Hosting"];

    [Theory]
    [MemberData(nameof(Parts))]
    public void Part_NamesOnlyThePartsBelowIt(string part, string[] allowed)
    {
        var forbidden = _allParts.Where(p => p != part && !allowed.Contains(p) && p != "Hosting").Select(p => Root + p)
            .Concat(HostingTypesBesidesProblems())
            .ToArray();

        var result = Types.InAssembly(_server).That().ResideInNamespace(Root + part).ShouldNot().HaveDependencyOnAny(forbidden).GetResult();

        Assert.True(result.SelectedTypesForTesting.Count > 0, $"no types in {Root}{part}: the table is out of date");
        Assert.True(result.IsSuccessful, $"{part} names a part it must not: " + string.Join(", ", (result.FailingTypes ?? []).Select(t => t.FullName)));
    }

    [Fact]
    public void EveryPartOfTheServer_IsInTheTable()
    {
        var namespaces = _server.GetTypes().Select(t => t.Namespace).Where(n => n is not null && n.StartsWith(Root, StringComparison.Ordinal))
            .Select(n => n![Root.Length..].Split('.')[0]).Distinct().Order().ToArray();

        Assert.Equal(_allParts.Order().ToArray(), namespaces);
    }

    [Fact]
    public void MediaLibrary_KnowsNothingOfTheServerOrAspNetCore()
    {
        var result = Types.InAssembly(typeof(PublishingPoint.Media.Tracks.TrackDescription).Assembly).ShouldNot()
            .HaveDependencyOnAny("PublishingPoint.Server", "Microsoft.AspNetCore", "Microsoft.Extensions").GetResult();

        Assert.True(result.IsSuccessful, "the media library names: " + string.Join(", ", (result.FailingTypes ?? []).Select(t => t.FullName)));
    }

    [Fact]
    public void Rules_CatchAPartThatBreaksThem()
    {
        // Delivery uses Points: a table that forbade it must fail, or the checks above prove nothing.
        var result = Types.InAssembly(_server).That().ResideInNamespace(Root + "Delivery").ShouldNot().HaveDependencyOnAny(Root + "Points").GetResult();

        Assert.False(result.IsSuccessful);
    }

    private static IEnumerable<string> HostingTypesBesidesProblems() =>
        _server.GetTypes().Where(t => t.Namespace == Root + "Hosting" && !t.IsNested && t != typeof(Problems)).Select(t => t.FullName!);
}
