using PublishingPoint.Server.Archive;

namespace PublishingPoint.Server.Points;

/// <summary>A point's server (.ism) and client (.ismc) manifests as made at one moment, to be written to its folder.</summary>
public sealed record PointManifests(string Directory, string Name, byte[] ClientManifest, byte[] ServerManifest)
{
    /// <summary>Writes both durably (each file and the folder synced): the client manifest first, as the server one names it.</summary>
    public void Write()
    {
        Durable.WriteFile(Path.Combine(Directory, Name + ".ismc"), ClientManifest);
        Durable.WriteFile(Path.Combine(Directory, Name + ".ism"), ServerManifest);
    }
}
