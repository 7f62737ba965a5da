namespace PublishingPoint.Server.Points;

/// <summary>What becomes of a point on disk when it ends (and while it runs): the registry says when, another part says how.</summary>
public interface IPointFinalizer
{
    /// <summary>The point's encoders have all ended: seal its archives and write its VOD files.</summary>
    void Write(Point point);

    /// <summary>The files that describe what the point holds now (a snapshot while live), made but not yet written.</summary>
    PointManifests SnapshotManifests(Point point);
}
