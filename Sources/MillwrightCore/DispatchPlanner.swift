import Foundation

/// Everything fixed at start that makes a work order dispatch-ready: who can do the work, the
/// procedure library, whether parts are tracked.
public struct PlanningContext: Sendable {
    public var roster: Roster
    public var calendar: ShiftCalendar
    public var policy: RoutingPolicy
    public var distances: DistanceTable
    public var procedures: ProcedureLibrary
    public var procedureTextLimit: Int
    public var tracksInventory: Bool
    public init(roster: Roster, calendar: ShiftCalendar, policy: RoutingPolicy = RoutingPolicy(), distances: DistanceTable = DistanceTable(),
                procedures: ProcedureLibrary = ProcedureLibrary([]), procedureTextLimit: Int = 3000, tracksInventory: Bool = false) {
        self.roster = roster; self.calendar = calendar; self.policy = policy; self.distances = distances
        self.procedures = procedures; self.procedureTextLimit = procedureTextLimit; self.tracksInventory = tracksInventory
    }
}

/// The decisions for one new incident, before the store reserves the parts.
public struct DispatchPlan: Sendable, Equatable {
    /// nil when no roster is configured.
    public var routing: RoutingDecision?
    public var procedure: Procedure?
    public var partNeeds: [PartNeed]
    /// When the assignee should first hear of it: nil = at once; a later instant when the work
    /// is planned into the next shift window (nobody is paged at night for minor work).
    public var notifyAt: Date?
}

public enum DispatchPlanner {
    /// Pure and total: never throws, so planning can never block creating the work order.
    public static func plan(_ draft: WorkOrderDraft, rule: DefectRule, assetClass: String?, area: String?,
                            context: PlanningContext?, workload: Workload, now: Date) -> DispatchPlan {
        guard let context else {
            return DispatchPlan(routing: nil, procedure: nil, partNeeds: partNeeds(rule: rule, procedure: nil), notifyAt: nil)
        }
        let procedure = context.procedures.select(defect: draft.defectClass, assetClass: assetClass)
        let needs = partNeeds(rule: rule, procedure: procedure)
        var routing: RoutingDecision?
        var notifyAt: Date?
        if !context.roster.technicians.isEmpty {
            let r = TechnicianRouter.route(RoutingNeeds(skills: draft.skills, area: area, priority: draft.priority), roster: context.roster,
                                           calendar: context.calendar, workload: workload, now: now, distances: context.distances,
                                           policy: context.policy)
            if case .nextWindow(let start) = r.mode { notifyAt = start }
            routing = r
        }
        return DispatchPlan(routing: routing, procedure: procedure, partNeeds: needs, notifyAt: notifyAt)
    }

    /// The parts a new incident needs: the defect rule's and its procedure's, one line per SKU.
    public static func partNeeds(rule: DefectRule, defect: String, assetClass: String?, context: PlanningContext?) -> [PartNeed] {
        partNeeds(rule: rule, procedure: context?.procedures.select(defect: defect, assetClass: assetClass))
    }

    static func partNeeds(rule: DefectRule, procedure: Procedure?) -> [PartNeed] {
        Parts.consolidate(rule.parts.map { PartNeed(sku: $0.sku, qty: $0.qty) } + (procedure?.parts ?? []))
    }

    /// Writes the assignment, the procedure and the part lines into the draft (its text is composed after).
    public static func apply(_ plan: DispatchPlan, parts: [PartLine]?, context: PlanningContext?, to draft: inout WorkOrderDraft) {
        if let r = plan.routing {
            switch r.assignee {
            case .technician(let id):
                draft.assignee = id
                draft.assigneeName = context?.roster.technician(id)?.name
            case .queue(let q):
                draft.assignee = q
                draft.assigneeName = "\(q) queue"
            }
            draft.assignmentReason = r.reason
        }
        if let p = plan.procedure { draft.procedure = p.render(limit: context?.procedureTextLimit ?? 3000) }
        draft.parts = plan.partNeeds.map { PartRequirement(sku: $0.sku, qty: $0.qty) }
        draft.partsStatus = parts
    }
}
